"""One screen per view (bank, titans, status, why), the help, the setup screens and small dialogs."""

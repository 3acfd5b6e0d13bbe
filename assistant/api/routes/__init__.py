"""One router per resource; `assistant.api.app.create_app` assembles them."""

"""`python -m assistant` == `shutka`."""

from assistant.cli import main

main()

"""Allow ``python -m cityops`` to run the command-line interface."""

from cityops.cli.main import main

if __name__ == "__main__":
    main()

"""``python -m bidtool``: the same as the ``bidtool`` console script."""

from bidtool.cli import main

if __name__ == "__main__":
    main()

"""The ``meshclaw`` command line. Each command group has its own module; heavy imports stay inside commands."""

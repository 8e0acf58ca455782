"""The ``governance`` command, above the domain: one module per command group.

``cli.main`` builds the parser from each group's ``register`` and runs the chosen command;
``python -m cli`` and the installed ``governance`` script both call ``cli.main.main``.
"""

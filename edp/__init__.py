"""EDP Live: run the Entrepreneurial Discovery Process of Smart Specialisation Strategies live.

Kept free of imports so that the command line can patch gevent before anything else loads.
"""


def create_app(test_config=None):
    from .app import create_app as _create_app

    return _create_app(test_config)

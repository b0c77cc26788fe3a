"""Extensions are created once here and bound to the app in the factory."""
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# gevent only: threading stalls near 300 phones with a database; eventlet is deprecated.
socketio = SocketIO(async_mode="gevent")


def bound(name: str, make, app=None):
    """The app's own `name` object (rate limits, guards, broadcast timers), made by `make(app)`
    on first use: per-app state instead of module globals, so two apps never share it."""
    from flask import current_app

    app = app or current_app._get_current_object()
    found = app.extensions.get(name)
    if found is None:
        found = app.extensions[name] = make(app)
    return found

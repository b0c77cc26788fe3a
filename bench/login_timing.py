"""Time of a failed log-in for an existing e-mail and for an unknown one (issue #14, item 7).

Both should cost the same password hashing, so the times tell nobody which e-mails have an
account. Runs the app in this process on a throw-away SQLite file with the real (default)
password hashing, and prints the median and spread of each.

    .venv/bin/python bench/login_timing.py [--tries 15]
"""
from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=15)
    args = parser.parse_args()

    from edp import create_app
    from edp.extensions import db
    from edp.models import Facilitator

    tmp = Path(tempfile.mkdtemp(prefix="edp-bench-login-"))
    try:
        app = create_app({"SECRET_KEY": "bench", "INSTANCE_PATH": str(tmp),
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'login.sqlite3'}",
                          # Count every try: the throttle is not what is measured here.
                          "LOGIN_CLIENT_LIMIT": "100000 per minute",
                          "LOGIN_ACCOUNT_LIMIT": "100000 per minute"})
        with app.app_context():
            db.create_all()
            user = Facilitator(email="known@example.org")
            user.set_password("the real password here")
            db.session.add(user)
            db.session.commit()
        http = app.test_client()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                          http.get("/login").text).group(1)
        times: dict[str, list[float]] = {"known e-mail": [], "unknown e-mail": []}
        for i in range(args.tries + 1):
            for label, email in (("known e-mail", "known@example.org"),
                                 ("unknown e-mail", f"nobody{i}@example.org")):
                start = time.perf_counter()
                r = http.post("/login", data={"email": email, "password": f"wrong {i}",
                                              "csrf_token": token})
                took = time.perf_counter() - start
                if r.status_code != 401:
                    raise SystemExit(f"unexpected {r.status_code} for {label}")
                if i:  # the first round warms up (and makes the dummy hash)
                    times[label].append(took * 1000)
        for label, ms in times.items():
            print(f"{label:15s} wrong password: median {statistics.median(ms):6.1f} ms, "
                  f"min {min(ms):6.1f}, max {max(ms):6.1f} ({len(ms)} tries)")
        ratio = statistics.median(times["known e-mail"]) / statistics.median(times["unknown e-mail"])
        print(f"known / unknown median ratio: {ratio:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

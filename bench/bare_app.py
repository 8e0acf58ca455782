"""The baseline of the policy-read benchmark: a bare Flask + SQLAlchemy endpoint that reads
the same customer row with no governance at all (no auth, consent, decryption, masks or
audit), served by gunicorn with the gateway's own server configuration
(``api.serving.gunicorn_options``: the same workers, access log and timeouts).

    python -m bench.bare_app DATABASE_URL PORT WORKERS
"""

from __future__ import annotations

import base64
import gc
import sys
from typing import Any

from flask import Flask, abort, jsonify
from gunicorn.app.base import BaseApplication
from sqlalchemy import MetaData, Table, create_engine, select

from api.serving import gunicorn_options


def create_bare_app(database_url: str) -> Flask:
    app = Flask("bare")
    engine = create_engine(database_url)
    customers = Table("customers", MetaData(), autoload_with=engine)

    @app.get("/customers/<record_id>")
    def read(record_id: str) -> Any:
        with engine.connect() as conn:
            row = conn.execute(select(customers).where(customers.c.id == record_id)).first()
        if row is None:
            abort(404)
        return jsonify(
            {
                k: base64.b64encode(v).decode() if isinstance(v, bytes) else v
                for k, v in row._mapping.items()
            }
        )

    return app


class _Gunicorn(BaseApplication):
    def __init__(self, database_url: str, port: int, workers: int) -> None:
        self.database_url = database_url
        self.options = gunicorn_options(
            host="127.0.0.1", port=port, workers=workers, log_level="warning"
        )
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        app = create_bare_app(self.database_url)
        gc.collect()
        gc.freeze()  # as the gateway's workers do (api.serving)
        return app


if __name__ == "__main__":
    _Gunicorn(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])).run()

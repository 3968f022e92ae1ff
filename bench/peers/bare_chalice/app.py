"""The smallest Chalice app: the floor for a Chalice cold start."""

import os

from chalice import Chalice

app = Chalice(app_name="bare-chalice")


@app.route("/health")
def health():
    return {"status": "ok", "stage": os.environ.get("APP_STAGE", "dev")}


@app.route("/hello")
def hello():
    return {"message": "Hello, World"}

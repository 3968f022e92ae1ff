"""The seeds' stack (FastAPI behind Mangum), with the same routes as ours."""

import os

import scipy.stats
from fastapi import FastAPI, Query
from mangum import Mangum

api = FastAPI()


@api.get("/health")
def health():
    return {"status": "ok", "stage": os.environ.get("APP_STAGE", "dev")}


@api.get("/hello")
def hello():
    return {"message": "Hello, World"}


@api.get("/stats")
def stats(numbers: list[float] = Query(...)):  # noqa: B008 - FastAPI's idiom
    result = scipy.stats.describe(numbers)
    return {"nobs": int(result.nobs), "minmax": [float(v) for v in result.minmax],
            "mean": float(result.mean), "variance": float(result.variance),
            "skewness": float(result.skewness), "kurtosis": float(result.kurtosis)}


handler = Mangum(api, lifespan="off")

"""Routers by resource, mounted under /api/v1 by api.app.create_app."""

from fastapi import APIRouter

from api.routes import analyze, compare, runs, scenarios

api_router = APIRouter()
api_router.include_router(scenarios.router)
api_router.include_router(runs.router)
api_router.include_router(compare.router)
api_router.include_router(analyze.router)

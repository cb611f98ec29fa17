"""Reads that staff look at rather than act on: live progress, results over time, the dashboard.

Each module is a selector: it reads the database (and, for the dashboard, the queue's Redis)
and returns plain data that the API serializes and the admin templates render.
"""

"""The scorer that runs inside the database (PL/Python), importable anywhere."""

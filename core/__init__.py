"""TrustPool's application package. Importing it first checks the Python version (3.11+: the
code uses `tomllib`, `enum.StrEnum` and 3.11 typing), so a newcomer on an older Python reads
one line saying what to install instead of a wall of tracebacks."""

import sys

MIN_PYTHON = (3, 11)

if sys.version_info < MIN_PYTHON:
    _message = (
        f"TrustPool needs Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer; this is Python "
        f"{'.'.join(str(part) for part in sys.version_info[:3])}. See README, Quick start."
    )
    if "streamlit" in sys.modules:
        raise RuntimeError(_message)  # Streamlit shows it and logs it; exiting would hang the page
    sys.exit(_message)

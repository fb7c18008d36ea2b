"""Entry point of the Streamlit UI: ``streamlit run src/movierec/ui/app.py`` (``movierec up`` starts it).

Streamlit's own server runs ``main.py`` (navigation, who is signed in, the pages) and, beside it, the one route that
sets and clears the HttpOnly login cookie (:mod:`movierec.ui.cookie_session`). The API's base URL comes from
``MOVIEREC_API_URL`` (default http://127.0.0.1:8000). While the server starts, a background thread builds a chart once
(:func:`movierec.ui.charts.warm_up`), so the first visit of My ratings does not load pandas and pyarrow.
"""

from __future__ import annotations

from pathlib import Path

from streamlit.starlette import App

from movierec.ui import charts, cookie_session

charts.warm_up_in_background()
app = App(Path(__file__).with_name("main.py"), routes=cookie_session.routes())

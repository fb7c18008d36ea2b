"""The pages of the UI: each file is run by ``st.navigation`` from ``main.py`` (not imported)."""

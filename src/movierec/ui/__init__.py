"""The Streamlit UI: ``streamlit run src/movierec/ui/app.py``. It knows the API only through HTTP (``client.py``)."""

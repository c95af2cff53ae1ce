"""The RevOps dashboard (`revwh dashboard`): a Streamlit app over the published marts and
forecast tables. It reads only what is published, read-only (see `data`)."""

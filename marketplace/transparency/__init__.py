"""Public reports: how each dataset's money was shared, and the platform's own report."""

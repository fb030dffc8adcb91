"""``genrescope serve``: the web page and the REST API in one server."""

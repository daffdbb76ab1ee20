"""The web pages, served by the gateway itself: sign-in, the command centre's wall dashboard
and the officers' pages. Server-rendered (Jinja2) with small vendored assets; Chinese by
default, English by a switch; nothing is loaded from the internet (a Content-Security-Policy
of 'self' says so to the browser)."""

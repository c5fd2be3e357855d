"""A minimal Django project that relays a model stream to a browser page (see ../README.md).

``relaysite.wsgi.create_application(client)`` returns the WSGI application; ``/`` serves the
page and ``/stream`` the relay (``responses_stream.web.django_response``).
"""

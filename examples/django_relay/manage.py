#!/usr/bin/env python
"""Django's command-line utility for this project: ``python manage.py runserver`` serves the
relay against the real API (set ``OPENAI_API_KEY``); ``python run.py`` runs it offline."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relaysite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

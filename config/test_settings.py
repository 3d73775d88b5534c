"""
Settings for the test suite: the real settings, with a test secret and a fast hasher.

`DATABASE_URL` and `REDIS_URL` still apply, so the same suite runs on the embedded
defaults and on PostgreSQL + Redis.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-never-used-outside-the-test-suite")

from config.settings import *  # noqa: F403
from config.settings import CACHES, REDIS_URL

# Hashing is what a login costs by design; tests that are about hashing opt back in
# to Argon2 with the `argon2_hasher` fixture.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests do not run collectstatic; the manifest storage would refuse to render the admin.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if REDIS_URL:
    # A key prefix of its own per run, so a shared Redis never leaks state between runs.
    CACHES["default"]["KEY_PREFIX"] = f"authapi-test-{os.getpid()}"
else:
    CACHES["default"]["LOCATION"] = os.path.join(
        tempfile.mkdtemp(prefix="authapi-cache-"), "cache.sqlite3"
    )

# Static files are found through the finders; no collectstatic in tests.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# Mails stay in memory (django.core.mail.outbox) unless a test starts an SMTP server.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

"""The admin site's account recovery pages, beside the site itself (under /admin/).

`admin_password_reset` is the name Django's login page looks for to show its
"Forgotten your password?" link; the other two are the paths the admin realm's mails link
to when `ADMIN_FRONTEND_URL` is `<PUBLIC_URL>/admin`.
"""

from django.urls import path

from admins import site_recovery

urlpatterns = [
    path("admin/password-reset", site_recovery.password_reset, name="admin_password_reset"),
    path(
        "admin/reset-password",
        site_recovery.password_reset_confirm,
        name="admin_password_reset_confirm",
    ),
    path("admin/secure-account", site_recovery.secure_account, name="admin_secure_account"),
]

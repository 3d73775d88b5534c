from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AdminsConfig(AppConfig):
    name = "admins"
    verbose_name = "Admins"


class AccountsAdminConfig(admin_apps.AdminConfig):
    """Django's admin app with the project's own site (`admins.sites.AccountsAdminSite`),
    named in INSTALLED_APPS in place of `django.contrib.admin`."""

    default = False
    default_site = "admins.sites.AccountsAdminSite"

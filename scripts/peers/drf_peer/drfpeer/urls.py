from django.contrib import admin
from django.urls import path
from users.views import MeView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("me", MeView.as_view()),
]

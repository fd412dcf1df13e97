from django.contrib import admin
from django.urls import include, path

from programs import views
from programs.api import api

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("programs.urls")),
]

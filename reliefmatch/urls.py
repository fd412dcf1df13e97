from django.contrib import admin
from django.urls import include, path

from programs.api import screening_views
from programs.api.endpoints import api
from programs.journey import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/screening/", screening_views.screening_page, name="screening"),
    path(
        "admin/screening/template.csv",
        screening_views.screening_template,
        name="screening_template",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("programs.urls")),
]

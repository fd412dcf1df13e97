from django.urls import path

from . import catalogue_views, views

app_name = "programs"

urlpatterns = [
    path("", views.home, name="home"),
    path("check/", views.profile_form, name="profile_form"),
    path("check/report.<str:fmt>", views.report_unsaved, name="report_unsaved"),
    path("r/<str:token>/", views.results, name="results"),
    path("r/<str:token>/edit/", views.profile_edit, name="profile_edit"),
    path("r/<str:token>/answer/", views.answer_questions, name="answer_questions"),
    path("r/<str:token>/email/", views.email_link, name="email_link"),
    path("r/<str:token>/delete/", views.profile_delete, name="profile_delete"),
    path("r/<str:token>/report.<str:fmt>", views.report_kept, name="report_kept"),
    path("alerts/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("programmes/", catalogue_views.programme_list, name="programme_list"),
    path(
        "programmes/<slug:slug>/",
        catalogue_views.programme_detail,
        name="programme_detail",
    ),
]

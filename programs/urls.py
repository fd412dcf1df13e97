from django.urls import path

from programs.catalogue import views as catalogue_views
from programs.journey import feedback_views, views
from programs.ratelimit import form_rate_limited

app_name = "programs"

# Every public POST that matches, stores or sends something is rate limited per
# client address (FORM_RATE_LIMIT, programs/ratelimit.py); GETs never are. The
# unsubscribe link is not: mail providers send its one-click POST from shared
# addresses on behalf of many people.
urlpatterns = [
    path("", views.home, name="home"),
    path("check/", form_rate_limited(views.profile_form), name="profile_form"),
    path(
        "check/report.<str:fmt>",
        form_rate_limited(views.report_unsaved),
        name="report_unsaved",
    ),
    path(
        "check/wrong/<slug:slug>/",
        form_rate_limited(feedback_views.wrong_answer_unsaved),
        name="wrong_answer_unsaved",
    ),
    path("r/<str:token>/", views.results, name="results"),
    path("r/<str:token>/qr.svg", views.results_qr, name="results_qr"),
    path(
        "r/<str:token>/edit/",
        form_rate_limited(views.profile_edit),
        name="profile_edit",
    ),
    path(
        "r/<str:token>/answer/",
        form_rate_limited(views.answer_questions),
        name="answer_questions",
    ),
    path(
        "r/<str:token>/email/",
        form_rate_limited(views.email_link),
        name="email_link",
    ),
    path(
        "r/<str:token>/delete/",
        form_rate_limited(views.profile_delete),
        name="profile_delete",
    ),
    path("r/<str:token>/report.<str:fmt>", views.report_kept, name="report_kept"),
    path(
        "r/<str:token>/wrong/<slug:slug>/",
        form_rate_limited(feedback_views.wrong_answer_kept),
        name="wrong_answer_kept",
    ),
    path("alerts/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("programmes/", catalogue_views.programme_list, name="programme_list"),
    path(
        "programmes/<slug:slug>/",
        catalogue_views.programme_detail,
        name="programme_detail",
    ),
]

from django.urls import path

from . import views

app_name = "providers"
urlpatterns = [
    path("", views.provider_list, name="list"),
    path("new/", views.provider_create, name="create"),
    path("new/<slug:kind>/", views.provider_create, name="create_kind"),
    path("<int:pk>/", views.provider_detail, name="detail"),
    path("<int:pk>/edit/", views.provider_edit, name="edit"),
    path("<int:pk>/archive/", views.provider_archive, name="archive"),
    path("<int:pk>/delete/", views.provider_delete, name="delete"),
    path("<int:pk>/test/", views.send_test, name="send_test"),
    path("<int:pk>/test/<int:test_id>/", views.send_test_result, name="send_test_result"),
    path("<int:pk>/<slug:action>/", views.provider_action, name="action"),
]

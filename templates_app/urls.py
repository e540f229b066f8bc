from django.urls import path

from . import views

app_name = "templates_app"
urlpatterns = [
    path("", views.template_list, name="list"),
    path("new/", views.template_edit, name="create"),
    path("payload/", views.payload_preview, name="payload"),
    path("export/", views.template_export, name="export_many"),
    path("import/", views.template_import, name="import"),
    path("<int:pk>/", views.template_edit, name="edit"),
    path("<int:pk>/clone/", views.template_clone_view, name="clone"),
    path("<int:pk>/delete/", views.template_delete_view, name="delete"),
    path("<int:pk>/test/", views.template_send_test, name="send_test"),
    path("<int:pk>/export/", views.template_export, name="export"),
]

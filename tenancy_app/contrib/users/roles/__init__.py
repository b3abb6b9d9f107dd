"""Each schema's roles of its members: is_staff, is_superuser, groups and permissions.

In both ``TENANCY["SHARED_APPS"]`` (the public site's operators) and the tenant apps
(each tenant's members); see :mod:`tenancy_app.contrib.users`.
"""

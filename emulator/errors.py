"""Appwrite's error envelope `{message, code, type, version}` and the error types we raise."""
from __future__ import annotations

from .version import APPWRITE_VERSION

# type -> (HTTP code, default message), as in Appwrite's app/config/errors.php.
ERRORS: dict[str, tuple[int, str]] = {
    "general_argument_invalid": (400, "The request contains one or more invalid arguments. Please refer to the endpoint documentation."),
    "general_query_invalid": (400, "The query's syntax is invalid. Please check the query and try again."),
    "general_cursor_not_found": (400, "The cursor is invalid. This can happen if the item represented by the cursor has been deleted."),
    "general_bad_request": (400, "There was an error processing your request. Please check the inputs and try again."),
    "general_unauthorized_scope": (401, "The current user or API key does not have the required scopes to access the requested resource."),
    "general_access_forbidden": (401, "Access to this API is forbidden."),
    "general_route_not_found": (404, "The requested route was not found. Please refer to the API docs and try again."),
    "general_not_implemented": (405, "This method was not fully implemented yet. If you believe this is a mistake, please upgrade your Appwrite server version."),
    "general_payload_too_large": (413, "The request body is too large."),
    "general_rate_limit_exceeded": (429, "Rate limit for the current endpoint has been exceeded. Please try again after some time."),
    "general_server_error": (500, "There was an error processing your request. Please check the inputs and try again."),
    "general_unknown": (500, "There was an error processing your request. Please check the inputs and try again."),
    "user_unauthorized": (401, "The current user is not authorized to perform the requested action."),
    "user_jwt_invalid": (401, "The JWT token is invalid. Please check the value of the X-Appwrite-JWT header to ensure the correct token is being used."),
    "project_not_found": (404, "Project with the requested ID could not be found. Please check the value of the X-Appwrite-Project header to ensure the correct project ID is being used."),
    "function_not_found": (404, "Function with the requested ID could not be found."),
    "function_already_exists": (409, "Function with the requested ID already exists. Try again with a different ID or use ID.unique() to generate a unique ID."),
    "function_runtime_unsupported": (404, "The requested runtime is either inactive or unsupported. Please check the value of the _APP_FUNCTIONS_RUNTIMES environment variable."),
    "function_entrypoint_missing": (404, "Entrypoint for your Appwrite Function is missing. Please specify it when making deployment or update the entrypoint under your function's \"Settings\" > \"Configuration\" > \"Entrypoint\"."),
    "function_synchronous_timeout": (408, "Synchronous function execution timed out. Use asynchronous execution instead, or ensure the execution duration doesn't exceed 30 seconds."),
    "function_template_not_found": (404, "Function Template with the requested ID could not be found."),
    "deployment_not_found": (404, "Deployment with the requested ID could not be found."),
    "deployment_invalid_file_size": (400, "The deployment file size exceeds the maximum allowed size."),
    "build_not_found": (404, "Build with the requested ID could not be found."),
    "build_not_ready": (400, "Build with the requested ID is building and not ready for execution."),
    "build_in_progress": (400, "Build with the requested ID is already in progress. Please wait before you can retry."),
    "build_canceled": (400, "Build with the requested ID has been canceled."),
    "build_failed": (400, "Build with the requested ID failed. Please check the logs for more information."),
    "function_execute_permission_missing": (401, "To execute function using domain, execute permissions must include \"any\" or \"guests\"."),
    "rule_not_found": (404, "Rule with the requested ID could not be found. Please check if the ID provided is correct or if the rule actually exists."),
    "build_already_completed": (400, "Build with the requested ID is already completed and cannot be canceled."),
    "execution_not_found": (404, "Execution with the requested ID could not be found."),
    "execution_in_progress": (400, "Can't delete ongoing execution. Please wait for execution to finish before deleting it."),
    "variable_not_found": (404, "Variable with the requested ID could not be found."),
    "variable_already_exists": (409, "Variable with the same ID already exists in this project. Try again with a different ID."),
    "variable_cannot_unset_secret": (400, "Secret variables cannot be marked as non-secret. Please re-create the variable if this is your intention."),
    "storage_file_empty": (400, "Empty file passed to the endpoint."),
    "storage_file_type_unsupported": (400, "The given file extension is not supported."),
    "storage_invalid_file": (403, "The uploaded file is invalid. Please check the file and try again."),
    "storage_invalid_content_range": (400, "The content range is invalid. Please check the value of the Content-Range header."),
}


class AppwriteError(Exception):
    def __init__(self, type_: str, message: str | None = None, code: int | None = None):
        default_code, default_message = ERRORS.get(type_, (500, "Server Error"))
        self.type = type_
        self.code = code or default_code
        self.message = message or default_message
        super().__init__(self.message)

    def to_json(self) -> dict:
        return {"message": self.message, "code": self.code, "type": self.type, "version": APPWRITE_VERSION}


def invalid_param(key: str, description: str) -> AppwriteError:
    return AppwriteError("general_argument_invalid", f"Invalid `{key}` param: {description}")


def missing_param(key: str) -> AppwriteError:
    return AppwriteError("general_argument_invalid", f'Param "{key}" is not optional.')

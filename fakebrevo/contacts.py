"""The contacts API the project calls: folders, lists, removing list members, bulk import and
import processes (brevo/contacts.py is the client). Sources: Brevo's API reference,
https://developers.brevo.com/reference (createFolder, createList, getList, updateList, deleteList,
removeContactFromList, importContacts, getProcess)."""

from __future__ import annotations

import csv
import io
import itertools
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fakebrevo.protocol import (
    EMAIL_RE,
    JsonObject,
    Request,
    Response,
    invalid,
    missing,
    not_found,
    now_iso,
    out_of_range,
)

# removeContactFromList takes at most 150 addresses per request.
MAX_EMAILS_PER_LIST_CHANGE = 150

# Attributes that exist in the account (importContacts: attributes must exist in the account).
# Brevo ignores unknown ones at the end of the import; the fake refuses them synchronously (400
# at POST /contacts/import), the stricter reading, so the mistake surfaces in the test that made it.
KNOWN_ATTRIBUTES = frozenset({"FIRSTNAME", "LASTNAME", "SMS"})

# SMS must be in international format (country code, digits only, optional "+").
SMS_RE = re.compile(r"^\+?[1-9]\d{6,16}$")

Route = tuple[str, str, Callable[..., Response]]


class ContactsApi:
    """Folders, lists, contacts and import processes; read and written under `lock`."""

    lock: threading.RLock
    folders: dict[int, JsonObject]
    lists: dict[int, JsonObject]
    contacts: dict[str, JsonObject]
    processes: dict[int, JsonObject]
    _ids: Iterator[int]
    _process_delay_polls: int
    _failing_imports: int

    def _reset_contacts(self) -> None:
        self.folders = {}
        self.lists = {}
        self.contacts = {}
        self.processes = {}
        self._ids = itertools.count(1)
        self._process_delay_polls = 0
        self._failing_imports = 0

    def _contacts_routes(self) -> list[Route]:
        one_list = r"/v3/contacts/lists/(?P<list_id>\d+)"
        return [
            ("POST", r"/v3/contacts/folders", self._create_folder),
            ("POST", r"/v3/contacts/lists", self._create_list),
            ("GET", one_list, self._get_list),
            ("PUT", one_list, self._update_list),
            ("DELETE", one_list, self._delete_list),
            ("POST", rf"{one_list}/contacts/remove", self._remove_from_list),
            ("POST", r"/v3/contacts/import", self._import_contacts),
            ("GET", r"/v3/processes/(?P<process_id>\d+)", self._get_process),
        ]

    # -- seeding and controls ----------------------------------------------------------------

    def add_contact(self, email: str, attributes: JsonObject | None = None) -> JsonObject:
        """Create a contact directly, as if imported earlier."""
        with self.lock:
            return self._upsert_contact(email, attributes or {}, update=True, erase_empty=False)

    def set_process_delay(self, polls: int) -> None:
        """Imports report queued, then in_process, for `polls` GETs before they complete."""
        with self.lock:
            self._process_delay_polls = polls

    def fail_next_imports(self, n: int) -> None:
        """The next `n` imports are accepted (202) but their process ends `failed`, unapplied."""
        with self.lock:
            self._failing_imports += n

    # -- folders and lists -------------------------------------------------------------------

    def _create_folder(self, *, request: Request) -> Response:
        name = request.body.get("name")
        if not name:
            raise missing("name")
        if not isinstance(name, str):
            raise invalid("name must be a string")
        folder_id = next(self._ids)
        self.folders[folder_id] = {"id": folder_id, "name": name}
        return Response(201, {"id": folder_id})

    def _folder(self, folder_id: Any) -> JsonObject:
        if not isinstance(folder_id, int) or folder_id not in self.folders:
            raise not_found("Folder ID does not exist")
        return self.folders[folder_id]

    def _list(self, list_id: int) -> JsonObject:
        if list_id not in self.lists:
            raise not_found("List ID does not exist")
        return self.lists[list_id]

    def _create_list(self, *, request: Request) -> Response:
        body = request.body
        name, folder_id = body.get("name"), body.get("folderId")
        # createList: name and folderId are both required.
        if not name:
            raise missing("name")
        if folder_id is None:
            raise missing("folderId")
        if not isinstance(name, str):
            raise invalid("name must be a string")
        self._folder(folder_id)
        return Response(201, {"id": self._new_list(name, folder_id)})

    def _new_list(self, name: str, folder_id: int) -> int:
        list_id = next(self._ids)
        self.lists[list_id] = {
            "id": list_id,
            "name": name,
            "folderId": folder_id,
            "createdAt": now_iso(),
            "members": set(),
        }
        return list_id

    def _get_list(self, list_id: int, *, request: Request) -> Response:
        brevo_list = self._list(list_id)
        return Response(
            200,
            {
                "id": brevo_list["id"],
                "name": brevo_list["name"],
                "folderId": brevo_list["folderId"],
                "uniqueSubscribers": len(brevo_list["members"]),
                "totalSubscribers": len(brevo_list["members"]),
                "totalBlacklisted": 0,
                "createdAt": brevo_list["createdAt"],
            },
        )

    def _update_list(self, list_id: int, *, request: Request) -> Response:
        body = request.body
        brevo_list = self._list(list_id)
        name, folder_id = body.get("name"), body.get("folderId")
        if name is None and folder_id is None:
            raise missing("name or folderId")
        # updateList: "Either of the two parameters (name, folderId) can be updated at a time."
        if name is not None and folder_id is not None:
            raise invalid("Either name or folderId can be updated at a time, not both")
        if name is not None:
            if not isinstance(name, str) or not name:
                raise invalid("name must be a non-empty string")
            brevo_list["name"] = name
        else:
            self._folder(folder_id)
            brevo_list["folderId"] = folder_id
        return Response(204)

    def _delete_list(self, list_id: int, *, request: Request) -> Response:
        brevo_list = self._list(list_id)
        # deleteList: the list goes; its contacts stay in the account.
        for email in brevo_list["members"]:
            self.contacts[email]["listIds"].discard(list_id)
        del self.lists[list_id]
        return Response(204)

    def _remove_from_list(self, list_id: int, *, request: Request) -> Response:
        body = request.body
        brevo_list = self._list(list_id)
        # removeContactFromList: either up to 150 `emails` or `all: true`.
        if body.get("all") is True:
            if "emails" in body:
                raise invalid("Use either emails or all, not both")
            removed = sorted(brevo_list["members"])
            for email in removed:
                self.contacts[email]["listIds"].discard(list_id)
            brevo_list["members"].clear()
            return Response(201, {"contacts": {"success": removed, "failure": [], "total": len(removed)}})
        success, failure = [], []
        for email in self._emails_argument(body):
            key = email.lower()
            if key in brevo_list["members"]:
                brevo_list["members"].discard(key)
                self.contacts[key]["listIds"].discard(list_id)
                success.append(email)
            else:
                failure.append(email)
        if not success:
            # What Brevo answers when nothing could be removed, retries of a done call included.
            raise invalid("Contact already removed from list and/or does not exist")
        return Response(201, {"contacts": {"success": success, "failure": failure}})

    def _emails_argument(self, body: JsonObject) -> list[str]:
        emails = body.get("emails")
        if not emails:
            raise missing("emails")
        if not isinstance(emails, list) or not all(isinstance(item, str) for item in emails):
            raise invalid("emails must be a list of email addresses")
        if len(emails) > MAX_EMAILS_PER_LIST_CHANGE:
            raise out_of_range(f"emails: at most {MAX_EMAILS_PER_LIST_CHANGE} per request")
        return emails

    # -- import ------------------------------------------------------------------------------

    def _import_contacts(self, *, request: Request) -> Response:
        body = request.body
        # importContacts: exactly one of jsonBody, fileBody (CSV, ";"-separated) or fileUrl;
        # listIds unless newList; answers 202 with the id of an asynchronous process.
        sources = [name for name in ("jsonBody", "fileBody", "fileUrl") if body.get(name) is not None]
        if not sources:
            raise missing("jsonBody, fileBody or fileUrl")
        if len(sources) > 1:
            raise invalid("Only one of jsonBody, fileBody or fileUrl can be passed")
        list_ids = body.get("listIds")
        new_list = body.get("newList")
        if list_ids is None and new_list is None:
            raise missing("listIds")
        if list_ids is not None:
            if not isinstance(list_ids, list) or not all(isinstance(i, int) for i in list_ids):
                raise invalid("listIds must be a list of integers")
            for list_id in list_ids:
                self._list(list_id)
        if new_list is not None:
            if not isinstance(new_list, dict) or not new_list.get("listName"):
                raise missing("newList.listName")
            self._folder(new_list.get("folderId"))
        for flag in ("updateExistingContacts", "emptyContactsAttributes"):
            if flag in body and not isinstance(body[flag], bool):
                raise invalid(f"{flag} must be a boolean")

        if "jsonBody" in sources:
            rows = self._json_rows(body["jsonBody"])
        elif "fileBody" in sources:
            rows = self._csv_rows(body["fileBody"])
        else:
            # The fake never fetches URLs: a fileUrl import completes with nothing imported.
            if not isinstance(body["fileUrl"], str):
                raise invalid("fileUrl must be a string")
            rows = []

        process_id = next(self._ids)
        failing = self._failing_imports > 0
        if failing:
            self._failing_imports -= 1
        self.processes[process_id] = {
            "id": process_id,
            "status": "queued",
            "name": "Import contacts",
            "polls_left": self._process_delay_polls,
            "polled": False,
            "will_fail": failing,
            "rows": rows,
            "listIds": list(list_ids or []),
            "newList": new_list,
            "updateExistingContacts": body.get("updateExistingContacts", True),
            "emptyContactsAttributes": body.get("emptyContactsAttributes", False),
            "skipped": [],
        }
        if self._process_delay_polls == 0:
            self._finish_process(self.processes[process_id])
        return Response(202, {"processId": process_id})

    def _json_rows(self, json_body: Any) -> list[JsonObject]:
        if not isinstance(json_body, list):
            raise invalid("jsonBody must be a list of contacts")
        rows = []
        for index, item in enumerate(json_body):
            if not isinstance(item, dict) or "email" not in item:
                raise missing(f"jsonBody[{index}].email")
            attributes = item.get("attributes") or {}
            if not isinstance(attributes, dict):
                raise invalid(f"jsonBody[{index}].attributes must be an object")
            self._check_attribute_names(attributes)
            rows.append({"email": item["email"], "attributes": attributes})
        return rows

    def _csv_rows(self, file_body: Any) -> list[JsonObject]:
        if not isinstance(file_body, str) or not file_body.strip():
            raise invalid("fileBody must be CSV text")
        reader = csv.reader(io.StringIO(file_body), delimiter=";")
        header = next(reader)
        if "EMAIL" not in header:
            raise missing("EMAIL column in fileBody")
        self._check_attribute_names([column for column in header if column != "EMAIL"])
        rows = []
        for values in reader:
            if not any(values):
                continue
            record = dict(zip(header, values, strict=False))
            email = record.pop("EMAIL", "")
            rows.append({"email": email, "attributes": record})
        return rows

    def _check_attribute_names(self, names: Iterable[str]) -> None:
        unknown = sorted(set(names) - KNOWN_ATTRIBUTES)
        if unknown:
            raise invalid(f"Attribute(s) not found in the account: {', '.join(unknown)}")

    def _get_process(self, process_id: int, *, request: Request) -> Response:
        process = self.processes.get(process_id)
        if process is None:
            raise not_found("Process does not exist")
        # getProcess: queued, then in_process, then completed or failed.
        if process["status"] in ("queued", "in_process"):
            if process["polls_left"] > 0:
                process["polls_left"] -= 1
                process["status"] = "in_process" if process["polled"] else "queued"
                process["polled"] = True
            else:
                self._finish_process(process)
        return Response(200, {"id": process["id"], "status": process["status"], "name": process["name"]})

    def _finish_process(self, process: JsonObject) -> None:
        """Apply an import, as Brevo does asynchronously: add or update, never remove."""
        if process["will_fail"]:
            process["status"] = "failed"
            return
        list_ids = list(process["listIds"])
        if process["newList"] is not None:
            list_ids.append(self._new_list(process["newList"]["listName"], process["newList"]["folderId"]))
        for row in process["rows"]:
            email, attributes = row["email"], row["attributes"]
            if not isinstance(email, str) or not EMAIL_RE.match(email):
                process["skipped"].append({"email": email, "reason": "invalid email"})
                continue
            sms = attributes.get("SMS")
            if sms:
                if not SMS_RE.match(str(sms)):
                    process["skipped"].append({"email": email, "reason": "invalid SMS"})
                    continue
                # Brevo refuses an SMS number already held by another contact.
                owner = self._sms_owner(str(sms))
                if owner is not None and owner != email.lower():
                    process["skipped"].append({"email": email, "reason": "SMS already in use"})
                    continue
            contact = self._upsert_contact(
                email,
                attributes,
                update=process["updateExistingContacts"],
                erase_empty=process["emptyContactsAttributes"],
            )
            for list_id in list_ids:
                if list_id in self.lists:
                    self.lists[list_id]["members"].add(contact["email"])
                    contact["listIds"].add(list_id)
        process["status"] = "completed"
        # Keep no copy of the rows once applied: large imports would otherwise pile up.
        process["rows"] = []

    def _sms_owner(self, sms: str) -> str | None:
        for email, contact in self.contacts.items():
            if contact["attributes"].get("SMS") == sms:
                return email
        return None

    def _upsert_contact(self, email: str, attributes: JsonObject, *, update: bool, erase_empty: bool) -> JsonObject:
        key = email.lower()
        now = now_iso()
        contact = self.contacts.get(key)
        if contact is None:
            contact = {
                "id": next(self._ids),
                "email": key,
                "attributes": {},
                "listIds": set(),
                "createdAt": now,
                "modifiedAt": now,
            }
            self.contacts[key] = contact
        elif not update:
            return contact
        for name, value in attributes.items():
            if value in ("", None):
                # importContacts: empty values erase only when emptyContactsAttributes is true.
                if erase_empty:
                    contact["attributes"].pop(name, None)
            else:
                contact["attributes"][name] = value
        contact["modifiedAt"] = now
        return contact

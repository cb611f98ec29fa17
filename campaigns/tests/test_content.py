from __future__ import annotations

import pytest

from campaigns.content import (
    Placeholder,
    html_to_text,
    parse,
    prepare_content,
    readable_subject,
    recipient_personalisation,
    sender_header,
    subject_for,
)
from core.errors import InvalidInputError


def test_parse_reads_the_four_placeholders_and_defaults():
    template = parse("Hi {{ first_name | default:\"friend\" }}, {{email}} {{ last_name|default:'x' }}", field="subject")

    assert template == (
        "Hi ",
        Placeholder("first_name", "friend"),
        ", ",
        Placeholder("email"),
        " ",
        Placeholder("last_name", "x"),
    )


@pytest.mark.parametrize(
    ("source", "named"),
    [
        ('{% include "/etc/passwd" %}', "{% include %}"),
        ("{% load static %}", "{% load %}"),
        ("{% debug %}", "{% debug %}"),
        ("{% if x %}a{% endif %}", "{% if %}"),
        ("{{ user.password }}", "Attribute access"),
        ("{{ settings.SECRET_KEY }}", "Attribute access"),
        ("{{ request }}", "Unknown placeholder {{ request }}"),
        ("{{ first_name|upper }}", "Filter 'upper'"),
        ("{{ first_name|default }}", "default needs a quoted value"),
        ("{# note #}", "Template comments"),
        ("Hello {{ first_name", "Unclosed placeholder"),
        ("{{ first_name|default:'a'|lower }}", "not a valid placeholder"),
    ],
)
def test_anything_else_is_refused_with_a_message_naming_it(source, named):
    with pytest.raises(InvalidInputError) as refused:
        parse(f"<p>{source}</p>", field="body_html")

    assert refused.value.field == "body_html"
    assert named in refused.value.message


def test_brevo_shape_uses_params_and_brevo_default_syntax():
    prepared = prepare_content(
        subject='Hi {{ first_name | default:"friend" }}',
        preheader="",
        body_html='<p>{{ first_name }} <a href="{{ unsubscribe_url }}">stop</a></p>',
        body_text="",
    )

    brevo = prepared.for_brevo()

    assert brevo.subject == 'Hi {{ params.first_name | default: "friend" }}'
    assert '{{ params.first_name }} <a href="{{ params.unsubscribe_url }}">stop</a>' in brevo.html
    assert brevo.text.startswith("{{ params.first_name }} stop ({{ params.unsubscribe_url }})")


def test_local_rendering_substitutes_escapes_html_values_and_falls_back_to_defaults():
    prepared = prepare_content(
        subject='Hi {{ first_name | default:"friend" }}',
        preheader="Pre {{ first_name }}",
        body_html=(
            "<html><head><style>p { color: red; }</style></head><body>"
            '<p>{{ first_name|default:"you" }} &amp; {{ last_name }}</p></body></html>'
        ),
        body_text="",
    )

    rendered = prepared.render({"first_name": "", "last_name": "<Tom & Jerry>"})
    named = prepared.render({"first_name": "Ann", "last_name": ""})

    assert rendered.subject == "Hi friend"
    assert '<p style="color: red;">you &amp; &lt;Tom &amp; Jerry&gt;</p>' in rendered.html
    assert "<style>" not in rendered.html
    assert rendered.text.startswith("you & <Tom & Jerry>\n")
    assert named.subject == "Hi Ann"
    assert "Pre Ann</div>" in named.html


def test_the_preheader_is_the_first_hidden_element_of_the_body():
    prepared = prepare_content(subject="s", preheader="Read me first", body_html="<body><p>x</p></body>", body_text="")

    html = prepared.render({}).html

    assert html.index("Read me first") < html.index("<p>x</p>")
    assert "display:none" in html


def test_stylesheet_links_are_dropped_never_fetched():
    prepared = prepare_content(
        subject="s",
        preheader="",
        body_html='<html><head><link rel="stylesheet" href="file:///etc/passwd"></head><body><p>x</p></body></html>',
        body_text="",
    )

    assert "passwd" not in prepared.render({}).html


def test_a_written_text_part_wins_over_the_generated_one():
    prepared = prepare_content(subject="s", preheader="", body_html="<p>html</p>", body_text="Plain {{ email }}")

    assert prepared.render({"email": "a@example.com"}).text.startswith("Plain a@example.com")


def test_html_to_text_keeps_paragraphs_lists_and_links():
    text = html_to_text(
        "<html><head><title>t</title><style>p{}</style></head><body><h1>Title</h1><p>One <b>two</b></p>"
        '<ul><li>a</li><li>b</li></ul><p><a href="https://example.com/x">More</a></p></body></html>'
    )

    assert text == "Title\n\nOne two\n\n- a\n- b\n\nMore (https://example.com/x)"


def test_recipient_personalisation_gives_params_and_one_click_unsubscribe_headers():
    personal = recipient_personalisation(
        campaign_id=7, user_id=3, email="ann@example.com", first_name="Ann", last_name="Lee"
    )

    link = personal.params["unsubscribe_url"]
    assert link.startswith("http://testserver/unsubscribe/")
    assert personal.params["web_version_url"].startswith("http://testserver/email/")
    assert personal.params | {"unsubscribe_url": "", "web_version_url": ""} == {
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann@example.com",
        "unsubscribe_url": "",
        "web_version_url": "",
    }
    assert personal.headers == {
        "List-Unsubscribe": f"<{link}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


# --- What recipients and staff read ------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"first_name": "Ann"}, "Ann, our autumn programme is here"),
        ({"first_name": ""}, "Friend, our autumn programme is here"),
        ({}, "Friend, our autumn programme is here"),
    ],
)
def test_the_subject_is_rendered_as_the_recipient_got_it(params, expected):
    subject = '{{ first_name | default:"Friend" }}, our autumn programme is here'

    assert subject_for(subject, params) == expected


def test_a_readable_name_turns_placeholders_into_words():
    assert (
        readable_subject("{{ first_name }}, our autumn programme is here")
        == "[first name], our autumn programme is here"
    )
    assert readable_subject('Hi {{ first_name | default:"friend" }}') == "Hi friend"
    assert readable_subject("Broken {{ first_name") == "Broken {{ first_name"


@pytest.mark.parametrize(
    ("from_name", "from_email", "expected"),
    [
        # A name without an address of its own: the default address under the campaign's name.
        ("The Walkthrough Team", "", "The Walkthrough Team <news@example.com>"),
        ("", "", "News <news@example.com>"),
        ("Team", "team@example.com", "Team <team@example.com>"),
        ("", "team@example.com", "team@example.com"),
        ("Smith, Jones & Co", "", '"Smith, Jones & Co" <news@example.com>'),
    ],
)
def test_the_from_header_combines_the_name_with_the_default_address(settings, from_name, from_email, expected):
    settings.DEFAULT_FROM_EMAIL = "News <news@example.com>"

    assert sender_header(from_name=from_name, from_email=from_email) == expected


def test_a_bare_default_address_takes_the_campaign_name(settings):
    settings.DEFAULT_FROM_EMAIL = "news@example.com"

    assert sender_header(from_name="", from_email="") == "news@example.com"
    assert sender_header(from_name="Team", from_email="") == "Team <news@example.com>"

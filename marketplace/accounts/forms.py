from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, Regexp

from marketplace.text import EMAIL_SHAPE, NO_NUL, NUL

#: PostgreSQL can't store NUL: refuse it on the form rather than fail on the insert.
no_nul = Regexp(f"^[^{NUL}]*$", message=NO_NUL)

email_field = StringField(
    "E-mail", validators=[DataRequired(), Regexp(EMAIL_SHAPE, message="Not a valid e-mail address.")]
)


KIND_CHOICES = (
    ("platform", "A platform that hosts user content and lists datasets"),
    ("buyer", "A buyer that licenses datasets"),
)


class SignUpForm(FlaskForm):
    #: Rendered as two radio buttons by the template (KIND_CHOICES).
    kind = StringField(
        "We are",
        validators=[DataRequired(message="Choose platform or buyer."),
                    AnyOf(["platform", "buyer"], message="Choose platform or buyer.")],
    )
    name = StringField(
        "Organization name", validators=[DataRequired(), Length(min=2, max=120), no_nul]
    )
    email = email_field
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(min=8, message="Use at least 8 characters.")]
    )


class LogInForm(FlaskForm):
    email = email_field
    password = PasswordField("Password", validators=[DataRequired()])


class ApiKeyForm(FlaskForm):
    label = StringField("Label (optional)", validators=[Length(max=120), no_nul])


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for POST buttons."""

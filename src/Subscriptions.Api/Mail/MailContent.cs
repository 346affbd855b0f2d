namespace Subscriptions.Api.Mail;

/// <summary>The words of a confirmation or reminder mail, already in its language (<see cref="ConfirmationMailHtml"/> is its HTML part).</summary>
public sealed record ConfirmationMailContent(string Language, string Request, string Button, Uri Link, string NotYou, string Validity);

/// <summary>The words of a welcome mail, already in its language (<see cref="WelcomeMailHtml"/> is its HTML part).</summary>
public sealed record WelcomeMailContent(
    string Language, string Welcome, string Leave, string LeaveLink, Uri Unsubscribe, string Manage, string ManageLink, Uri Preferences);

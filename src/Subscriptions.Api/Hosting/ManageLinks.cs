using Subscriptions.Api.Data;

namespace Subscriptions.Api.Hosting;

/// <summary>
/// The preference centre's link, <c>/manage/{token}</c>: in the welcome mail, every export row
/// (<c>manage_url</c>) and the webhook events about a subscription. It names one of the reader's
/// subscriptions, and through it the reader.
/// </summary>
public sealed class ManageLinks(ServiceKeys keys, PublicLinks links) : IdLinks(keys, links, Path, "manage")
{
    public const string Path = "/manage";
}

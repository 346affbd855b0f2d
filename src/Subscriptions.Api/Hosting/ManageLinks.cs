using Subscriptions.Api.Data;

namespace Subscriptions.Api.Hosting;

/// <summary>
/// The preference centre's link, <c>/manage/{token}</c>: in the welcome mail, every export row
/// (<c>manage_url</c>). Derived, not stored, like the unsubscribe link (<see cref="IdTokens"/>, a
/// purpose of its own): it names one of the reader's subscriptions, and through it the reader.
/// </summary>
public sealed class ManageLinks(ServiceKeys keys, PublicLinks links)
{
    public const string Path = "/manage";
    const string Purpose = "manage";

    public async ValueTask<IdLinkMaker> UrlMakerAsync(CancellationToken cancellationToken) =>
        new(links.Absolute($"{Path}/").AbsoluteUri, new IdTokens(await keys.KeyAsync(cancellationToken), Purpose));

    public async ValueTask<Uri> UrlAsync(long subscriptionId, CancellationToken cancellationToken)
    {
        using var maker = await UrlMakerAsync(cancellationToken);
        return maker.Url(subscriptionId);
    }

    /// <summary>The subscription a token names, or null when it is not one of ours.</summary>
    public async ValueTask<long?> VerifyAsync(string token, CancellationToken cancellationToken)
    {
        using var tokens = new IdTokens(await keys.KeyAsync(cancellationToken), Purpose);
        return tokens.Read(token);
    }
}

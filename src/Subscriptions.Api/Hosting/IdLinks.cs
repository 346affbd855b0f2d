using Subscriptions.Api.Data;

namespace Subscriptions.Api.Hosting;

/// <summary>
/// Links that name one subscription, derived rather than stored: its id encrypted and signed for
/// one purpose (<see cref="IdTokens"/>), so a link reveals neither the id nor how many
/// subscriptions exist, and a link made for one purpose is no link for another.
/// </summary>
public abstract class IdLinks(ServiceKeys keys, PublicLinks links, string path, string purpose)
{
    protected ServiceKeys Keys => keys;

    /// <summary>Makes URLs for many subscriptions (an export); see <see cref="IdLinkMaker"/>.</summary>
    public async ValueTask<IdLinkMaker> UrlMakerAsync(CancellationToken cancellationToken) =>
        new(links.Absolute($"{path}/").AbsoluteUri, new IdTokens(await keys.KeyAsync(cancellationToken), purpose));

    /// <summary>The URL of one subscription (for a mail).</summary>
    public async ValueTask<Uri> UrlAsync(long subscriptionId, CancellationToken cancellationToken)
    {
        using var maker = await UrlMakerAsync(cancellationToken);
        return maker.Url(subscriptionId);
    }

    /// <summary>The subscription a token names, or null when it is not one of ours.</summary>
    public virtual async ValueTask<long?> VerifyAsync(string token, CancellationToken cancellationToken)
    {
        using var tokens = new IdTokens(await keys.KeyAsync(cancellationToken), purpose);
        return tokens.Read(token);
    }
}

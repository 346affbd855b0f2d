using System.Net.Sockets;
using System.Text;

namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>Sends cases as they are written: paths unaltered, raw bytes over a socket of their own.</summary>
public sealed class BatterySender(Uri baseAddress)
{
    static readonly UriCreationOptions AsWritten = new() { DangerousDisablePathAndQueryCanonicalization = true };

    readonly HttpClient _client = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false })
    {
        Timeout = TimeSpan.FromSeconds(60),
    };

    public sealed record Answer(int Status, string? MediaType);

    public Task<Answer> SendAsync(Case c) => c.Raw is null ? SendHttpAsync(c) : SendRawAsync(c.Raw, c.HalfClose);

    async Task<Answer> SendHttpAsync(Case c)
    {
        using var request = new HttpRequestMessage(new HttpMethod(c.Method), new Uri(baseAddress.GetLeftPart(UriPartial.Authority) + c.Path, AsWritten));
        foreach (var (name, value) in c.Headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        if (c.Body is not null)
        {
            request.Content = c.Chunked ? new StreamContent(new MemoryStream(c.Body)) : new ByteArrayContent(c.Body);
            if (c.ContentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", c.ContentType);
            }
        }

        // As browsers and curl do for large uploads: the server can refuse before the body is sent.
        request.Headers.ExpectContinue = c.Body?.Length > 64 * 1024;
        using var response = await _client.SendAsync(request);
        return new((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>
    /// Writes the request and reads the answer to the end (every raw request says Connection:
    /// close). A request that never ends (<paramref name="halfClose"/>: a body shorter than it
    /// announced) gets a second to be answered, then the sending side is closed, as a client that
    /// gives up would, instead of waiting out the server's timeout for the rest of the body.
    /// Kestrel takes that close for the client going away, so it is not done to complete
    /// requests. No answer at all is status 0.
    /// </summary>
    async Task<Answer> SendRawAsync(byte[] raw, bool halfClose)
    {
        using var tcp = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await tcp.ConnectAsync(baseAddress.Host, baseAddress.Port, timeout.Token);
        var stream = tcp.GetStream();
        var received = new MemoryStream();
        try
        {
            await stream.WriteAsync(raw, timeout.Token);
            if (halfClose)
            {
                // once answered, the close only spares Kestrel waiting for the rest of the body
                tcp.Client.Poll(TimeSpan.FromSeconds(1), SelectMode.SelectRead);
                tcp.Client.Shutdown(SocketShutdown.Send);
            }

            await stream.CopyToAsync(received, timeout.Token);
        }
        catch (IOException)
        {
            // the server may close on a request it refuses while this side still writes; what it answered first counts
        }

        var head = Encoding.Latin1.GetString(received.GetBuffer(), 0, (int)received.Length).Split("\r\n\r\n", 2)[0].Split("\r\n");
        if (head[0].Split(' ') is not [_, var code, ..] || !int.TryParse(code, out var status))
        {
            return new(0, null);
        }

        var contentType = head.Skip(1).Select(h => h.Split(':', 2)).FirstOrDefault(h => h[0].Equals("Content-Type", StringComparison.OrdinalIgnoreCase))?[1].Trim();
        return new(status, contentType?.Split(';')[0].Trim());
    }
}

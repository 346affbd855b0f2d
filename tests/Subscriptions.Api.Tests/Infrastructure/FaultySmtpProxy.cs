using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// Stands in front of a real SMTP server. Its first <c>refusals</c> connections are answered
/// here: the greeting and EHLO succeed (advertising no extensions), RCPT TO (or the command
/// named by <c>faultyCommand</c>) gets <c>rcptReply</c> (as greylisting or a full mailbox would)
/// and then the server hangs up, so each retry needs a new connection; a null <c>rcptReply</c>
/// never answers at all (a server that hangs). Later connections are piped to the real server untouched.
/// </summary>
public sealed class FaultySmtpProxy : IAsyncDisposable
{
    readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    readonly CancellationTokenSource _stop = new();
    readonly int _upstreamPort;
    readonly string? _rcptReply;
    readonly string _faultyCommand;
    readonly Task _accepting;
    int _refusalsLeft;
    int _refused;
    int _connections;

    public FaultySmtpProxy(int upstreamPort, int refusals, string? rcptReply, string faultyCommand = "RCPT")
    {
        _upstreamPort = upstreamPort;
        _refusalsLeft = refusals;
        _rcptReply = rcptReply;
        _faultyCommand = faultyCommand;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections answered with the fault so far.</summary>
    public int Refused => Volatile.Read(ref _refused);

    /// <summary>From now on every connection goes through to the real server.</summary>
    public void Recover() => Volatile.Write(ref _refusalsLeft, 0);

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Interlocked.Increment(ref _connections);
            _ = Interlocked.Decrement(ref _refusalsLeft) >= 0 ? RefuseAsync(client) : PipeAsync(client);
        }
    }

    async Task RefuseAsync(TcpClient client)
    {
        using var _ = client;
        Interlocked.Increment(ref _refused);
        var stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.ASCII);
        await using var writer = new StreamWriter(stream, Encoding.ASCII) { NewLine = "\r\n", AutoFlush = true };
        try
        {
            await writer.WriteLineAsync("220 faulty.test ESMTP");
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                var verb = line.Split(' ', 2)[0].ToUpperInvariant();
                if (verb == _faultyCommand && _rcptReply is null)
                {
                    await reader.ReadLineAsync(_stop.Token); // until the client gives up and hangs up
                    return;
                }

                var faulted = verb == _faultyCommand;
                await writer.WriteLineAsync(faulted ? _rcptReply : verb switch
                {
                    "EHLO" or "HELO" => "250 faulty.test",
                    "QUIT" => "221 2.0.0 Bye",
                    _ => "250 2.0.0 OK",
                });
                if (faulted || verb == "QUIT")
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // the client hung up
        }
    }

    async Task PipeAsync(TcpClient client)
    {
        using var _ = client;
        using var upstream = new TcpClient();
        try
        {
            await upstream.ConnectAsync(IPAddress.Loopback, _upstreamPort, _stop.Token);
            await Task.WhenAny(
                client.GetStream().CopyToAsync(upstream.GetStream(), _stop.Token),
                upstream.GetStream().CopyToAsync(client.GetStream(), _stop.Token));
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            // either side hung up
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}

using System.Net;
using System.Net.Sockets;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// Stands in front of a real SMTP server and misbehaves as relays do under trouble: it can stay
/// silent (accept connections and say nothing, not even the greeting) until it recovers, and it
/// can take its time over each message (the end of every message's data is held back before it
/// reaches the server, so the server's "250 queued" comes that much later). Silence alone serves
/// in front of any TCP server (PostgreSQL whose network is not up yet).
/// </summary>
public sealed class RelayProxy : IAsyncDisposable
{
    static readonly byte[] EndOfData = "\r\n.\r\n"u8.ToArray();

    readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    readonly CancellationTokenSource _stop = new();
    readonly int _upstreamPort;
    readonly Task _accepting;
    int _silentConnections;
    int _heldMessages;

    public RelayProxy(int upstreamPort)
    {
        _upstreamPort = upstreamPort;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections accepted before this time get silence for as long as the client stays.</summary>
    public DateTime SilentUntil { get; set; } = DateTime.MinValue;

    /// <summary>How long each message's end of data is held back.</summary>
    public TimeSpan PerMessageDelay { get; set; }

    public int SilentConnections => Volatile.Read(ref _silentConnections);

    /// <summary>Messages whose end of data is being held back right now (their sender waits for the server's answer).</summary>
    public int HeldMessages => Volatile.Read(ref _heldMessages);

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

            _ = DateTime.UtcNow < SilentUntil ? SilentAsync(client) : PipeAsync(client);
        }
    }

    async Task SilentAsync(TcpClient client)
    {
        using var _ = client;
        Interlocked.Increment(ref _silentConnections);
        var buffer = new byte[1024];
        try
        {
            while (await client.GetStream().ReadAsync(buffer, _stop.Token) > 0)
            {
                // read and say nothing, until the client gives up
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
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
                ForwardClientAsync(client.GetStream(), upstream.GetStream()),
                upstream.GetStream().CopyToAsync(client.GetStream(), _stop.Token));
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            // either side hung up
        }
    }

    /// <summary>Client to server, holding back the end of each message's data by <see cref="PerMessageDelay"/>.</summary>
    async Task ForwardClientAsync(NetworkStream from, NetworkStream to)
    {
        var buffer = new byte[64 * 1024];
        var tail = new List<byte>(EndOfData.Length);
        int read;
        while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
        {
            tail.AddRange(buffer.AsSpan(0, read).ToArray()[Math.Max(0, read - EndOfData.Length)..]);
            if (tail.Count > EndOfData.Length)
            {
                tail.RemoveRange(0, tail.Count - EndOfData.Length);
            }

            if (PerMessageDelay > TimeSpan.Zero && tail.SequenceEqual(EndOfData))
            {
                var split = Math.Max(0, read - 3); // hold back ".\r\n"
                await to.WriteAsync(buffer.AsMemory(0, split), _stop.Token);
                Interlocked.Increment(ref _heldMessages);
                try
                {
                    await Task.Delay(PerMessageDelay, _stop.Token);
                }
                finally
                {
                    Interlocked.Decrement(ref _heldMessages);
                }

                await to.WriteAsync(buffer.AsMemory(split, read - split), _stop.Token);
                continue;
            }

            await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
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

using System.Collections.Concurrent;
using System.Net.Http.Json;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Containers;
using Microsoft.Extensions.Http.Resilience;
using MimeKit;
using Polly;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// MailDev 2.2.1, a real SMTP server that keeps what it receives and serves it over HTTP,
/// started by Testcontainers (the public image on Docker, the same release built locally for Podman).
/// </summary>
public sealed class MailServer : IAsyncDisposable
{
    const int SmtpPort = 1025;
    const int ApiPort = 1080;
    static readonly string Image = Environment.GetEnvironmentVariable("MAILDEV_IMAGE") ?? "maildev/maildev:2.2.1";

    readonly IContainer _container;
    readonly HttpClient _api;
    readonly ConcurrentDictionary<string, MimeMessage> _fetched = new();

    // Host ports are chosen here, not by the engine, so they stay the same across a stop and a
    // start: the fault tests stop the server, and the service keeps its SMTP settings.
    public MailServer()
    {
        _container = ContainerEngine.Ready(new ContainerBuilder(Image))
            .WithEnvironment("MAILDEV_SMTP_PORT", SmtpPort.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithEnvironment("MAILDEV_WEB_PORT", ApiPort.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithPortBinding(LocalNetworking.FreePort(), SmtpPort)
            .WithPortBinding(LocalNetworking.FreePort(), ApiPort)
            .WithWaitStrategy(Wait.ForUnixContainer().UntilHttpRequestIsSucceeded(r => r.ForPort(ApiPort).ForPath("/healthz")))
            .WithLocalNetworking()
            .Build();

        // Under the whole suite's load MailDev's API (one Node process, behind the engine's port
        // forwarding) now and then resets a connection: a read or a clear is asked again, and what
        // was reset is written to the test output. Connections are not kept (a kept one MailDev had
        // closed was another reset).
        var retry = new HttpRetryStrategyOptions
        {
            MaxRetryAttempts = 4,
            Delay = TimeSpan.FromMilliseconds(250),
            BackoffType = DelayBackoffType.Exponential,
            OnRetry = args =>
            {
                Console.Error.WriteLine(
                    $"MailDev API: {args.Outcome.Exception?.Message ?? args.Outcome.Result?.StatusCode.ToString()} "
                    + $"(container {_container.State}); asking again ({args.AttemptNumber + 1})");
                return default;
            },
        };
        _api = new HttpClient(new KeepingLogOnFailure(this)
        {
            InnerHandler = new ResilienceHandler(new ResiliencePipelineBuilder<HttpResponseMessage>().AddRetry(retry).Build())
            {
                InnerHandler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero },
            },
        });
        _api.DefaultRequestHeaders.ConnectionClose = true;
    }

    public int Port => _container.GetMappedPublicPort(SmtpPort);

    Uri Api => new($"http://127.0.0.1:{_container.GetMappedPublicPort(ApiPort)}/");

    /// <summary>Settings that point the service at this server.</summary>
    public Dictionary<string, string?> SmtpSettings(int? port = null) => new()
    {
        ["Smtp:Host"] = "127.0.0.1",
        ["Smtp:Port"] = (port ?? Port).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Smtp:Security"] = "None",
    };

    /// <summary>Starts the server (again: a started MailDev holds no messages).</summary>
    public Task StartAsync()
    {
        _fetched.Clear();
        return _container.StartAsync();
    }

    public Task StopAsync() => _container.StopAsync();

    /// <summary>Forgets every message. A MailDev that died (seen once in ~10 suite runs) is started again first.</summary>
    public async Task ClearAsync()
    {
        _fetched.Clear();
        try
        {
            (await _api.DeleteAsync(new Uri(Api, "email/all"))).EnsureSuccessStatusCode();
        }
        catch (HttpRequestException)
        {
            await _container.StopAsync();
            await _container.StartAsync();
            (await _api.DeleteAsync(new Uri(Api, "email/all"))).EnsureSuccessStatusCode();
        }
    }

    public async Task<List<MimeMessage>> MessagesAsync()
    {
        var listed = await _api.GetFromJsonAsync<List<Listed>>(new Uri(Api, "email")) ?? [];
        var messages = new List<MimeMessage>();
        foreach (var item in listed)
        {
            // a message never changes: each is fetched once, not on every poll of a wait
            if (!_fetched.TryGetValue(item.Id, out var message))
            {
                await using var source = await _api.GetStreamAsync(new Uri(Api, $"email/{item.Id}/source"));
                message = _fetched[item.Id] = await MimeMessage.LoadAsync(source);
            }

            messages.Add(message);
        }

        return messages;
    }

    /// <summary>Waits (bounded) until at least <paramref name="count"/> messages arrived, then returns them all.</summary>
    public async Task<List<MimeMessage>> WaitForMessagesAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var listed = await _api.GetFromJsonAsync<List<Listed>>(new Uri(Api, "email")) ?? [];
            if (listed.Count >= count)
            {
                return await MessagesAsync();
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{listed.Count} of {count} messages arrived in time");
            }

            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _api.Dispose();
        await _container.DisposeAsync();
    }

    /// <summary>
    /// Waits (bounded) until <paramref name="count"/> messages to <paramref name="address"/> arrived,
    /// then returns every message to it: a late mail of an earlier test cannot satisfy the wait.
    /// </summary>
    public async Task<List<MimeMessage>> WaitForMailToAsync(string address, int count = 1, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            // as MimeKit reads the message: MailDev's own listing gives IDN domains in another form
            var messages = (await MessagesAsync()).Where(m => m.To.Mailboxes.Any(b => b.Address == address)).ToList();
            if (messages.Count >= count)
            {
                return messages;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{messages.Count} of {count} messages to {address} arrived in time");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>The recipient of every message received so far (one entry per message), without fetching the messages.</summary>
    public async Task<List<string>> RecipientsAsync() =>
        [.. (await _api.GetFromJsonAsync<List<Listed>>(new Uri(Api, "email")) ?? []).SelectMany(m => m.To ?? []).Select(t => t.Address)];

    /// <summary>The envelope sender (MAIL FROM) of every message received so far, as the SMTP server saw it.</summary>
    public async Task<List<string>> EnvelopeSendersAsync() =>
        [.. (await _api.GetFromJsonAsync<List<Listed>>(new Uri(Api, "email")) ?? []).Select(m => m.Envelope?.From?.Address ?? "")];

    /// <summary>
    /// MailDev's own account of a request it did not answer even when asked again: its state, exit
    /// code and log, kept in TestResults/ (the container goes with the test run). MailDev exited
    /// with code 1 mid-suite in some runs (podman's event log, sessions 12 and 13), once during a
    /// test; what it said then was lost with the container.
    /// </summary>
    sealed class KeepingLogOnFailure(MailServer server) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            try
            {
                return await base.SendAsync(request, cancellationToken);
            }
            catch (HttpRequestException ex)
            {
                var container = server._container;
                var file = Path.Combine(RepositoryPaths.Root, "TestResults", $"maildev-{container.Name.TrimStart('/')}-{DateTime.UtcNow:HHmmss}.log");
                var (stdout, stderr) = await container.GetLogsAsync(ct: CancellationToken.None);
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                await File.WriteAllTextAsync(file, $"state {container.State}, exit code {await ExitCodeAsync(container)}\n{stdout}\n{stderr}", CancellationToken.None);
                throw new HttpRequestException($"MailDev did not answer {request.Method} {request.RequestUri?.AbsolutePath}: {ex.Message} "
                    + $"(container {container.State}; its log: {file})", ex);
            }
        }

        static async Task<string> ExitCodeAsync(IContainer container)
        {
            try
            {
                return (await container.GetExitCodeAsync()).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                return $"unknown ({ex.GetType().Name})";
            }
        }
    }

    sealed record Listed(string Id, List<Recipient>? To = null, Envelope? Envelope = null);

    sealed record Envelope(Recipient? From);

    sealed record Recipient(string Address);
}

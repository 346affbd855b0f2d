using System.Diagnostics;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>Runs the built service as its own process, as an operator would start it.</summary>
public static class ServiceProcess
{
    /// <summary>What Production requires beside the connection string; a test sets one to null to leave it out.</summary>
    public static readonly IReadOnlyDictionary<string, string> ProductionSettings = new Dictionary<string, string>
    {
        ["Smtp__From"] = "Newsletter <newsletter@example.com>",
        ["Subscriptions__PublicBaseUrl"] = "https://news.example.com",
    };

    public static async Task<(int ExitCode, string StandardOutput, string StandardError)> RunAsync(
        IEnumerable<string> arguments, Dictionary<string, string?> environment, TimeSpan? timeout = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(typeof(Program).Assembly.Location);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // a clean slate: nothing from the test host's own configuration leaks in
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("ConnectionStrings__", StringComparison.Ordinal)
            || k.StartsWith("Subscriptions__", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in ProductionSettings)
        {
            start.Environment[key] = value;
        }

        foreach (var (key, value) in environment)
        {
            Set(start, key, value);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the service did not exit: {await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>A variable for the child process; null leaves it out altogether (not an empty value).</summary>
    internal static void Set(ProcessStartInfo start, string key, string? value)
    {
        if (value is null)
        {
            start.Environment.Remove(key);
        }
        else
        {
            start.Environment[key] = value;
        }
    }
}

/// <summary>The built service running as its own process on a free loopback port, until disposed.</summary>
public sealed class RunningService : IAsyncDisposable
{
    const int KeptLines = 200;

    readonly Process _process;
    readonly Queue<string> _output = new();

    RunningService(Process process, Uri baseAddress, Uri? managementAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
        ManagementAddress = managementAddress;
    }

    /// <summary>The last lines the service wrote (standard output and error), for a failing test's message.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    public bool HasExited => _process.HasExited;

    void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Enqueue(line);
            if (_output.Count > KeptLines)
            {
                _output.Dequeue();
            }
        }
    }

    public Uri BaseAddress { get; }

    /// <summary>Where /metrics and the probes answer when the service was started with a management port.</summary>
    public Uri? ManagementAddress { get; }

    public HttpClient CreateHttpClient() => new(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = BaseAddress };

    public HttpClient CreateManagementClient() =>
        new(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = ManagementAddress ?? throw new InvalidOperationException("started without a management port") };

    /// <param name="managementPort">Also listen on a management port of its own (Management__Urls on another free loopback port).</param>
    /// <param name="workingDirectory">Where it is started from; the folder of the built service unless given.</param>
    /// <param name="port">The public port on 127.0.0.1 (a restarted instance keeps its place behind a proxy); a free one unless given.</param>
    public static async Task<RunningService> StartAsync(
        Dictionary<string, string?> environment, bool managementPort = false, string? workingDirectory = null, int? port = null)
    {
        port ??= LocalNetworking.FreePort();
        var management = managementPort ? new Uri($"http://127.0.0.1:{LocalNetworking.FreePort()}/") : null;

        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(typeof(Program).Assembly.Location);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Smtp__From"] = ServiceProcess.ProductionSettings["Smtp__From"];
        start.Environment["Subscriptions__PublicBaseUrl"] = $"http://127.0.0.1:{port}";
        if (management is not null)
        {
            start.Environment["Management__Urls"] = management.GetLeftPart(UriPartial.Authority);
        }

        foreach (var (key, value) in environment)
        {
            ServiceProcess.Set(start, key.Replace(":", "__", StringComparison.Ordinal), value);
        }

        // a test that names its own management URLs is waited for on the first of them
        if (managementPort && start.Environment["Management__Urls"] is { } urls)
        {
            management = new Uri(urls.Split(';')[0].TrimEnd('/') + "/");
        }

        var process = Process.Start(start)!;
        var service = new RunningService(process, new Uri($"http://127.0.0.1:{port}/"), management);
        process.OutputDataReceived += (_, e) => service.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => service.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var client = management is null ? service.CreateHttpClient() : service.CreateManagementClient();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                if ((await client.GetAsync("/health/ready")).IsSuccessStatusCode)
                {
                    return service;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                await service.DisposeAsync();
                throw new TimeoutException($"the service did not become ready:\n{service.Output}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>
    /// Stops it as an orchestrator does: SIGTERM, then waits (bounded) for the host's graceful
    /// shutdown — requests in flight answered, the outbox's claims handed back — to end the process.
    /// </summary>
    public async Task StopAsync(TimeSpan? timeout = null)
    {
        if (_process.HasExited)
        {
            return;
        }

        var (exitCode, output) = await ExternalTool.RunAsync("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(10));
        Assert.True(exitCode == 0, $"kill -TERM: {output}");
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(40));
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the service did not stop within {timeout ?? TimeSpan.FromSeconds(40)} of SIGTERM:\n{Output}");
        }
    }

    /// <summary>Ends it at once (SIGKILL, as kill -9): nothing is handed back.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}

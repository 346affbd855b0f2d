using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// HAProxy (Debian's 2.6, which tests/run.sh installs) as a local process on 127.0.0.1 and a free
/// port, in front of the service's instances, with the deployment's own configuration
/// (src/deploy/haproxy/haproxy.cfg, which docker-compose.yml runs too): the addresses, the edge's
/// rate limit and the runtime API's socket come from environment variables. The runtime API is how
/// an operator takes an instance out and puts it back (a rolling restart), and how the tests read
/// what HAProxy thinks of each instance.
/// </summary>
public sealed class HaproxyServer : IAsyncDisposable
{
    const string Binary = "/usr/sbin/haproxy";
    const string Backend = "instances";

    readonly DirectoryInfo _folder;
    readonly RunningTool _process;
    readonly string _socket;

    HaproxyServer(DirectoryInfo folder, RunningTool process, string socket, Uri address)
    {
        _folder = folder;
        _process = process;
        _socket = socket;
        Address = address;
    }

    public static string SharedConfiguration => Path.Combine(RepositoryPaths.Root, "src", "deploy", "haproxy", "haproxy.cfg");

    /// <summary>Where clients connect.</summary>
    public Uri Address { get; }

    /// <summary>What HAProxy logged (abnormal requests only: retried, refused, failed).</summary>
    public string Output => _process.Output;

    /// <summary>The server names of the configuration (api1, api2) for the instances, in order.</summary>
    public static string ServerName(int instance) => $"api{instance + 1}";

    /// <param name="instances">Each instance's public port and management port on 127.0.0.1.</param>
    public static async Task<HaproxyServer> StartAsync(IReadOnlyList<(int Port, int ManagementPort)> instances, int edgeRequestsPer10Seconds)
    {
        Assert.True(File.Exists(Binary), $"{Binary} is missing: tests/run.sh installs it (apt-get install haproxy).");
        Assert.Equal(2, instances.Count); // the configuration names two servers
        var folder = Directory.CreateTempSubdirectory("haproxy-");
        var port = LocalNetworking.FreePort();
        var socket = Path.Combine(folder.FullName, "admin.sock");
        var environment = new Dictionary<string, string>
        {
            ["HAPROXY_BIND"] = $"127.0.0.1:{port}",
            ["EDGE_REQUESTS_PER_10S"] = edgeRequestsPer10Seconds.ToString(CultureInfo.InvariantCulture),
            ["HAPROXY_ADMIN_SOCKET"] = socket,
        };
        for (var i = 0; i < instances.Count; i++)
        {
            environment[$"API_{i + 1}"] = $"127.0.0.1:{instances[i].Port}";
            environment[$"API_{i + 1}_MANAGEMENT_PORT"] = instances[i].ManagementPort.ToString(CultureInfo.InvariantCulture);
        }

        // the configuration check first: a mistake in it is one clear message, not a proxy that never answers
        var (exitCode, output) = await ExternalTool.RunAsync(Binary, ["-c", "-f", SharedConfiguration], TimeSpan.FromSeconds(30), environment);
        Assert.True(exitCode == 0, $"haproxy -c: {output}");

        var process = ExternalTool.Start(Binary, ["-db", "-f", SharedConfiguration], environment);
        var haproxy = new HaproxyServer(folder, process, socket, new Uri($"http://127.0.0.1:{port}/"));
        try
        {
            for (var i = 0; i < instances.Count; i++)
            {
                await haproxy.WaitForStatusAsync(i, "UP", TimeSpan.FromSeconds(20));
            }
        }
        catch
        {
            await haproxy.DisposeAsync();
            throw;
        }

        return haproxy;
    }

    /// <summary>One command of the runtime API, and its answer.</summary>
    public async Task<string> CommandAsync(string command)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(_socket), cancel.Token);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\n"), cancel.Token);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadToEndAsync(cancel.Token); // HAProxy closes after one command
    }

    /// <summary>
    /// What HAProxy knows of an instance now (show stat): its status (UP, DOWN, MAINT, DRAIN, or a
    /// transition such as "UP 1/2"), the requests it is serving, and the responses it gave in total.
    /// </summary>
    public async Task<(string Status, int Current, long Responses)> ServerAsync(int instance)
    {
        var stat = await CommandAsync("show stat");
        var lines = stat.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0].TrimStart('#', ' ').Split(',');
        int Column(string name) => Array.IndexOf(header, name);
        foreach (var line in lines.Skip(1))
        {
            var fields = line.Split(',');
            if (fields[Column("pxname")] == Backend && fields[Column("svname")] == ServerName(instance))
            {
                long Number(string name) => long.TryParse(fields[Column(name)], CultureInfo.InvariantCulture, out var n) ? n : 0;
                return (fields[Column("status")], (int)Number("scur"), Number("hrsp_2xx") + Number("hrsp_4xx") + Number("hrsp_5xx"));
            }
        }

        throw new InvalidOperationException($"no server {ServerName(instance)} in: {stat}");
    }

    public async Task WaitForStatusAsync(int instance, string status, TimeSpan timeout)
    {
        var last = "";
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                try
                {
                    return (last = (await ServerAsync(instance)).Status) == status;
                }
                catch (SocketException) when (!_process.HasExited)
                {
                    return false; // starting: the runtime API's socket is not there yet
                }
            }, timeout, $"HAProxy sees {ServerName(instance)} {status}");
        }
        catch (Xunit.Sdk.XunitException)
        {
            Assert.Fail($"HAProxy did not see {ServerName(instance)} {status} within {timeout} (last: {last}); its log:\n{Output}");
        }
    }

    /// <summary>ready, drain or maint (the runtime API's "set server … state").</summary>
    public async Task SetStateAsync(int instance, string state)
    {
        var answer = await CommandAsync($"set server {Backend}/{ServerName(instance)} state {state}");
        Assert.True(string.IsNullOrWhiteSpace(answer), $"set server state {state}: {answer}");
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        _folder.Delete(recursive: true);
    }
}

using Npgsql;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// PgBouncer (Debian's 1.18, which tests/run.sh installs) as a local process on 127.0.0.1 and a
/// free port, in front of a test's PostgreSQL. Its configuration is the deployment's own
/// (src/deploy/pgbouncer/pgbouncer.ini, which docker-compose.yml runs as it is) with this
/// machine's addresses and credentials put in its place.
/// PgBouncer refuses to run as root: as root, it runs as the postgres user.
/// </summary>
public sealed class PgBouncerServer : IAsyncDisposable
{
    const string Binary = "/usr/sbin/pgbouncer";

    readonly DirectoryInfo _folder;
    readonly RunningTool _process;
    readonly NpgsqlConnectionStringBuilder _server;

    PgBouncerServer(DirectoryInfo folder, RunningTool process, NpgsqlConnectionStringBuilder server, int port)
    {
        _folder = folder;
        _process = process;
        _server = server;
        Port = port;
    }

    public static string SharedConfiguration => Path.Combine(RepositoryPaths.Root, "src", "deploy", "pgbouncer", "pgbouncer.ini");

    public int Port { get; }

    public string Output => _process.Output;

    /// <summary>Starts it in front of the server <paramref name="connectionString"/> names, and waits until a query passes through it.</summary>
    public static async Task<PgBouncerServer> StartAsync(string connectionString)
    {
        Assert.True(File.Exists(Binary), $"{Binary} is missing: tests/run.sh installs it (apt-get install pgbouncer).");
        var server = new NpgsqlConnectionStringBuilder(connectionString);
        var folder = Directory.CreateTempSubdirectory("pgbouncer-");
        // readable by the postgres user, which PgBouncer runs as when the tests run as root
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(folder.FullName, (UnixFileMode)0b111_101_101);
        }
        var port = LocalNetworking.FreePort();
        var userList = Path.Combine(folder.FullName, "userlist.txt");
        await File.WriteAllTextAsync(userList, $"\"{server.Username}\" \"{server.Password}\"\n");
        var configuration = Path.Combine(folder.FullName, "pgbouncer.ini");
        await File.WriteAllLinesAsync(configuration, WithAddresses(await File.ReadAllLinesAsync(SharedConfiguration), new()
        {
            ["*"] = $"host={server.Host} port={server.Port}",
            ["listen_addr"] = "127.0.0.1",
            ["listen_port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["auth_file"] = userList,
        }));

        var process = ExternalTool.Start(Binary, [configuration], userName: Environment.UserName == "root" ? "postgres" : null);
        var bouncer = new PgBouncerServer(folder, process, server, port);
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                Assert.False(process.HasExited, $"PgBouncer exited: {process.Output}");
                try
                {
                    await using var connection = new NpgsqlConnection(bouncer.ConnectionString(server.Database!) + ";Pooling=false");
                    await connection.OpenAsync();
                    return true;
                }
                catch (NpgsqlException)
                {
                    return false; // not listening yet
                }
            }, TimeSpan.FromSeconds(15), "PgBouncer lets a connection through");
        }
        catch
        {
            await bouncer.DisposeAsync();
            throw;
        }

        return bouncer;
    }

    /// <summary>
    /// The deployment's file with this machine's values for <paramref name="settings"/>, each of
    /// which it must set (a renamed one fails here). Not %include and a section of the test's own:
    /// PgBouncer sets a section's settings back to their defaults when the section starts again.
    /// </summary>
    static IEnumerable<string> WithAddresses(string[] lines, Dictionary<string, string> settings)
    {
        var replaced = new HashSet<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            var equals = lines[i].IndexOf('=', StringComparison.Ordinal);
            var key = equals < 0 || lines[i].TrimStart().StartsWith(';') ? null : lines[i][..equals].Trim();
            if (key is not null && settings.TryGetValue(key, out var value))
            {
                lines[i] = $"{key} = {value}";
                replaced.Add(key);
            }
        }

        Assert.True(replaced.SetEquals(settings.Keys), $"{SharedConfiguration} no longer sets {string.Join(", ", settings.Keys.Except(replaced))}");
        return lines;
    }

    /// <summary>
    /// The service's connection string through this pooler: transaction mode lends a server
    /// connection for one transaction only, so no statement may stay prepared on it (PgBouncer 1.18).
    /// </summary>
    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Database = database,
        Username = _server.Username,
        Password = _server.Password,
        MaxAutoPrepare = 0,
    }.ConnectionString;

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        _folder.Delete(recursive: true);
    }
}

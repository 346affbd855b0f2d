using System.Text.RegularExpressions;
using Subscriptions.Api.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Subscriptions.Api.Tests.Kernel;

/// <summary>
/// The folders of the service import each other without circles, the shared layers import no
/// feature, and no feature uses another feature's endpoint class: what one feature needs of
/// another's (a path, a link builder, an input rule) lives in the shared layers. Read from the
/// source, so that a constant (which the compiler inlines) counts as much as a call.
/// </summary>
public sealed partial class FeatureBoundaryTests(ITestOutputHelper output)
{
    static readonly string Source = Path.Combine(RepositoryPaths.Root, "src", "Subscriptions.Api");

    /// <summary>Rules, chrome and plumbing every feature may use; they import only each other.</summary>
    static readonly HashSet<string> SharedLayers = ["Kernel", "Localization", "Data", "Hosting", "Pages"];

    /// <summary>
    /// Edges left as they are because the Outbox is another branch's work: the outbox wires its own
    /// transports (AddOutbox registers the mail transport, the webhooks and the confirmation options;
    /// the dispatcher takes both transports), and the metrics count deliveries per OutboxLane. Each
    /// is checked to still exist, so the list shrinks as they go.
    /// </summary>
    static readonly HashSet<(string From, string To)> LeftForTheOutbox =
        [("Outbox", "Mail"), ("Outbox", "Webhooks"), ("Outbox", "Confirmation"), ("Hosting", "Outbox")];

    sealed record Folder(string Name, List<(string File, string Code)> Files, HashSet<string> Types, HashSet<string> EndpointMembers);

    static readonly Lazy<Dictionary<string, Folder>> Folders = new(Read);

    [Fact]
    public void No_feature_uses_another_features_endpoint_class()
    {
        var offences = new List<string>();
        foreach (var (name, folder) in Folders.Value)
        {
            foreach (var other in Folders.Value.Values.Where(f => f.Name != name))
            {
                var endpointTypes = other.Types.Where(t => t.EndsWith("Endpoint", StringComparison.Ordinal) || t.EndsWith("Endpoints", StringComparison.Ordinal));
                foreach (var (file, code) in folder.Files)
                {
                    // a type by name, or an extension method of one (MapXxx, AddXxx), which names no type
                    offences.AddRange(endpointTypes.Concat(other.EndpointMembers)
                        .Where(mention => Regex.IsMatch(code, $@"\b{mention}\b"))
                        .Where(_ => !LeftForTheOutbox.Contains((name, other.Name)))
                        .Select(mention => $"{file} uses {other.Name}'s {mention}"));
                }
            }
        }

        Assert.True(offences.Count == 0, string.Join('\n', offences));
    }

    [Fact]
    public void Folders_import_each_other_without_a_circle()
    {
        var edges = Edges();
        output.WriteLine(string.Join('\n', edges.OrderBy(e => e.Key, StringComparer.Ordinal)
            .Select(e => $"{e.Key} -> {string.Join(", ", e.Value.Order(StringComparer.Ordinal))}")));

        var stale = LeftForTheOutbox.Where(e => !edges[e.From].Contains(e.To)).ToList();
        Assert.True(stale.Count == 0, $"no longer there, take them off the list: {string.Join(", ", stale)}");

        var graph = edges.ToDictionary(e => e.Key, e => e.Value.Where(to => !LeftForTheOutbox.Contains((e.Key, to))).ToList());
        var cycle = FindCycle(graph);
        Assert.True(cycle is null, $"import circle: {string.Join(" -> ", cycle ?? [])}");
    }

    [Fact]
    public void Shared_layers_import_no_feature()
    {
        var offences = Edges()
            .Where(e => SharedLayers.Contains(e.Key))
            .SelectMany(e => e.Value.Where(to => !SharedLayers.Contains(to) && !LeftForTheOutbox.Contains((e.Key, to))).Select(to => $"{e.Key} -> {to}"))
            .ToList();
        Assert.True(offences.Count == 0, string.Join('\n', offences));
    }

    [Fact]
    public void The_checks_see_the_folders_they_are_about()
    {
        // a rename or a moved source tree must not turn the checks above into checks of nothing
        Assert.Superset(new HashSet<string>(SharedLayers) { "Signup", "Admin", "Confirmation", "Unsubscribe", "Embed", "Mail", "Outbox", "Webhooks", "Protection" },
            Folders.Value.Keys.ToHashSet());
        Assert.Contains("SignupEndpoints", Folders.Value["Signup"].Types);
        Assert.Contains("MapWebhookAdministration", Folders.Value["Webhooks"].EndpointMembers);
        Assert.Contains("IsListSlug", Folders.Value["Kernel"].Files.Single(f => f.File.EndsWith("InputRules.cs", StringComparison.Ordinal)).Code);
    }

    /// <summary>
    /// Folder → folders its code names: <c>using Subscriptions.Api.X</c> (also in templates and
    /// aliases), <c>Subscriptions.Api.X.Type</c>, and <c>X.Type</c> for a type declared in folder X.
    /// Templates also see the root _ViewImports.cshtml.
    /// </summary>
    static Dictionary<string, HashSet<string>> Edges()
    {
        var folders = Folders.Value;
        var viewImports = Namespaces(StripComments(File.ReadAllText(Path.Combine(Source, "_ViewImports.cshtml"))));
        var edges = folders.Keys.ToDictionary(f => f, _ => new HashSet<string>(StringComparer.Ordinal));
        foreach (var (name, folder) in folders)
        {
            foreach (var (file, code) in folder.Files)
            {
                var named = Namespaces(code);
                if (file.EndsWith(".cshtml", StringComparison.Ordinal))
                {
                    named.UnionWith(viewImports);
                }

                foreach (Match qualified in QualifiedType().Matches(code))
                {
                    if (folders.TryGetValue(qualified.Groups["folder"].Value, out var target) && target.Types.Contains(qualified.Groups["type"].Value))
                    {
                        named.Add(target.Name);
                    }
                }

                edges[name].UnionWith(named.Where(n => n != name && folders.ContainsKey(n)));
            }
        }

        return edges;
    }

    static HashSet<string> Namespaces(string code) =>
        [.. ProjectNamespace().Matches(code).Select(m => m.Groups["folder"].Value)];

    static List<string>? FindCycle(Dictionary<string, List<string>> graph)
    {
        var state = new Dictionary<string, int>(); // 1 on the path, 2 done
        var path = new List<string>();
        foreach (var start in graph.Keys.Order(StringComparer.Ordinal))
        {
            if (Visit(start) is { } cycle)
            {
                return cycle;
            }
        }

        return null;

        List<string>? Visit(string node)
        {
            if (state.GetValueOrDefault(node) == 2)
            {
                return null;
            }

            if (state.GetValueOrDefault(node) == 1)
            {
                return [.. path[path.IndexOf(node)..], node];
            }

            state[node] = 1;
            path.Add(node);
            foreach (var next in graph.GetValueOrDefault(node, []).Order(StringComparer.Ordinal))
            {
                if (Visit(next) is { } cycle)
                {
                    return cycle;
                }
            }

            path.RemoveAt(path.Count - 1);
            state[node] = 2;
            return null;
        }
    }

    static Dictionary<string, Folder> Read() =>
        Directory.GetDirectories(Source)
            .Select(Path.GetFileName)
            .Where(name => name is not ("bin" or "obj" or "Properties"))
            .Select(name =>
            {
                var files = Directory.EnumerateFiles(Path.Combine(Source, name!), "*.*", SearchOption.AllDirectories)
                    .Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".cshtml", StringComparison.Ordinal))
                    .Order(StringComparer.Ordinal)
                    .Select(f => (Path.GetRelativePath(Source, f), StripComments(File.ReadAllText(f))))
                    .ToList();
                var types = files.SelectMany(f => DeclaredType().Matches(f.Item2).Select(m => m.Groups["name"].Value)).ToHashSet(StringComparer.Ordinal);
                var endpointMembers = files
                    .Where(f => Path.GetFileNameWithoutExtension(f.Item1).EndsWith("Endpoint", StringComparison.Ordinal)
                        || Path.GetFileNameWithoutExtension(f.Item1).EndsWith("Endpoints", StringComparison.Ordinal))
                    .SelectMany(f => ExtensionMethod().Matches(f.Item2).Select(m => m.Groups["name"].Value))
                    .ToHashSet(StringComparer.Ordinal);
                return new Folder(name!, files, types, endpointMembers);
            })
            .ToDictionary(f => f.Name, StringComparer.Ordinal);

    static string StripComments(string code) => Comment().Replace(code, "");

    // Line and block comments (doc comments too: a cref is prose, not a dependency), but not the // of a URL in a string.
    [GeneratedRegex(@"(?<!:)//[^\n]*|/\*.*?\*/|@\*.*?\*@", RegexOptions.Singleline)]
    private static partial Regex Comment();

    [GeneratedRegex(@"\bSubscriptions\.Api\.(?<folder>\w+)")]
    private static partial Regex ProjectNamespace();

    [GeneratedRegex(@"(?<![\w.])(?<folder>[A-Z]\w*)\.(?<type>[A-Z]\w*)")]
    private static partial Regex QualifiedType();

    [GeneratedRegex(@"\b(?:class|record|struct|interface|enum)\s+(?<name>[A-Z]\w*)")]
    private static partial Regex DeclaredType();

    [GeneratedRegex(@"public\s+static\s+[\w<>,\s\[\]?]+?\s(?<name>\w+)(?:<[^>]*>)?\(\s*this\b")]
    private static partial Regex ExtensionMethod();
}

using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Localization;
using Subscriptions.Api.Kernel;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Protection;

namespace Subscriptions.Api.Signup;

/// <summary>A signup as the caller sent it, before validation: a news site's form or a script's JSON.</summary>
public sealed record SignupInput(
    string? Email,
    string? Consent,
    string? Name,
    string? Locale,
    IReadOnlyList<string> Lists,
    string? Source,
    string? Honeypot = null,
    string? Captcha = null,
    string? UtmSource = null,
    string? UtmMedium = null,
    string? UtmCampaign = null)
{
    public static readonly string[] ConsentGiven = ["on", "true", "yes", "1"];

    [System.Text.Json.Serialization.JsonIgnore]
    public bool HasConsent => Consent is not null && ConsentGiven.Contains(Consent.Trim(), StringComparer.OrdinalIgnoreCase);

    /// <summary>The lists asked for, each once, in the order given; none asked for = the default list.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string[] ListSlugs => Lists.Count == 0 ? [InputRules.DefaultList] : [.. Lists.Distinct(StringComparer.Ordinal)];
}

/// <summary>
/// What reading the body gave: the input plus errors about its shape (a number where text
/// belongs, a field given twice), or a problem with the request as a whole; all of it in the
/// language of the moment (the request's Accept-Language: the signup's own locale is not read yet).
/// </summary>
public sealed record SignupBody(SignupInput? Input, Dictionary<string, string[]> ShapeErrors, ProblemHttpResult? Problem)
{
    /// <param name="honeypotField">The hidden field only bots fill.</param>
    /// <param name="captchaFormField">The form field a CAPTCHA widget fills (JSON uses "captcha").</param>
    public static async Task<SignupBody> ReadAsync(
        HttpRequest request, string honeypotField, string captchaFormField, long maxBytes, IStringLocalizer<Texts> texts,
        CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return TooLarge(maxBytes, texts);
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes;
        }

        var isJson = request.HasJsonContentType();
        if (!isJson && !request.HasFormContentType)
        {
            return Fail(StatusCodes.Status415UnsupportedMediaType, texts["ProblemContentTypeTitle"], texts["ProblemContentType"]);
        }

        // Read as UTF-8 whatever they say: JSON always, forms because no browser and no embed of ours
        // declares a charset (the framework's form reader would decode one).
        if (Utf8Bodies.DeclaresOtherCharset(request))
        {
            return Fail(StatusCodes.Status415UnsupportedMediaType, texts["ProblemCharsetTitle"], texts["ProblemCharset"]);
        }

        try
        {
            return isJson
                ? await ReadJsonAsync(request, honeypotField, texts, cancellationToken)
                : FromForm(await request.ReadFormAsync(cancellationToken), honeypotField, captchaFormField, texts);
        }
        catch (JsonException)
        {
            return Fail(StatusCodes.Status400BadRequest, texts["ProblemMalformedJsonTitle"], texts["ProblemMalformedJson"]);
        }
        catch (InvalidDataException)
        {
            return MalformedForm(texts);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge(maxBytes, texts);
        }
        catch (BadHttpRequestException ex)
        {
            return Fail(ex.StatusCode, texts["ProblemBadRequestTitle"], ex.Message);
        }
        catch (IOException)
        {
            // The multipart reader's "Unexpected end of Stream": the body ended before the
            // boundary the header announced (a wrong boundary, an unterminated part). And
            // Kestrel's "Bad chunk size data" for a chunk size that overflows, which it throws
            // as a plain IOException rather than a BadHttpRequestException.
            return isJson ? Fail(StatusCodes.Status400BadRequest, texts["ProblemMalformedBodyTitle"], texts["ProblemMalformedBody"]) : MalformedForm(texts);
        }
    }

    static SignupBody MalformedForm(IStringLocalizer<Texts> texts) =>
        Fail(StatusCodes.Status400BadRequest, texts["ProblemMalformedFormTitle"], texts["ProblemMalformedForm"]);

    static SignupBody TooLarge(long maxBytes, IStringLocalizer<Texts> texts) =>
        Fail(StatusCodes.Status413PayloadTooLarge, texts["ProblemTooLargeTitle"], texts["ProblemTooLarge", maxBytes]);

    static SignupBody Fail(int status, string title, string detail) =>
        new(null, [], TypedResults.Problem(detail, statusCode: status, title: title));

    static async Task<SignupBody> ReadJsonAsync(HttpRequest request, string honeypotField, IStringLocalizer<Texts> texts, CancellationToken cancellationToken)
    {
        using var document = await JsonDocument.ParseAsync(request.Body,
            new JsonDocumentOptions { MaxDepth = 8, AllowDuplicateProperties = false }, cancellationToken);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return Fail(StatusCodes.Status400BadRequest, texts["ProblemMalformedJsonTitle"], texts["ProblemJsonNotObject"]);
        }

        var errors = new Dictionary<string, string[]>();
        var input = new SignupInput(
            Email: Text(root, "email", errors, texts),
            Consent: root.TryGetProperty("consent", out var consent) && consent.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? (consent.ValueKind == JsonValueKind.True ? "true" : "false")
                : Text(root, "consent", errors, texts),
            Name: Text(root, "name", errors, texts),
            Locale: Text(root, "locale", errors, texts),
            Lists: TextArray(root, "lists", errors, texts),
            Source: Text(root, "source", errors, texts),
            Honeypot: Text(root, honeypotField, errors, texts),
            Captcha: Text(root, "captcha", errors, texts),
            UtmSource: Text(root, Attribution.SourceField, errors, texts),
            UtmMedium: Text(root, Attribution.MediumField, errors, texts),
            UtmCampaign: Text(root, Attribution.CampaignField, errors, texts));
        return new(input, errors, null);
    }

    static string? Text(JsonElement root, string field, Dictionary<string, string[]> errors, IStringLocalizer<Texts> texts)
    {
        if (!root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            return TryGetString(value, out var text) ? text : Invalid(field, errors, texts);
        }

        errors[field] = [texts["FieldNotText", field]];
        return null;
    }

    // System.Text.Json validates string contents only when they are read: invalid UTF-8 and
    // escaped lone surrogates ("\ud800") surface here, as text PostgreSQL could not store.
    static bool TryGetString(JsonElement value, out string? text)
    {
        try
        {
            text = value.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            text = null;
            return false;
        }
    }

    static string? Invalid(string field, Dictionary<string, string[]> errors, IStringLocalizer<Texts> texts)
    {
        errors[field] = [texts["FieldNotUnicode", field]];
        return null;
    }

    static string[] TextArray(JsonElement root, string field, Dictionary<string, string[]> errors, IStringLocalizer<Texts> texts)
    {
        if (!root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
        {
            var strings = new List<string>();
            foreach (var element in value.EnumerateArray())
            {
                if (!TryGetString(element, out var text))
                {
                    Invalid(field, errors, texts);
                    return [];
                }

                strings.Add(text!);
            }

            return [.. strings];
        }

        errors[field] = [texts["FieldNotListArray", field]];
        return [];
    }

    static SignupBody FromForm(IFormCollection form, string honeypotField, string captchaFormField, IStringLocalizer<Texts> texts)
    {
        // RFC 7578 requires a name on every part, and no form of ours has a file input.
        if (form.Files.Count > 0 || form.ContainsKey(""))
        {
            return MalformedForm(texts);
        }

        var errors = new Dictionary<string, string[]>();
        var input = new SignupInput(
            Email: Single(form, "email", errors, texts),
            Consent: Single(form, "consent", errors, texts),
            Name: Single(form, "name", errors, texts),
            Locale: Single(form, "locale", errors, texts),
            Lists: [.. form["list"].Where(v => !string.IsNullOrEmpty(v)).Select(v => v!)],
            Source: Single(form, "source", errors, texts),
            Honeypot: Single(form, honeypotField, errors, texts),
            Captcha: Single(form, captchaFormField, errors, texts),
            UtmSource: Single(form, Attribution.SourceField, errors, texts),
            UtmMedium: Single(form, Attribution.MediumField, errors, texts),
            UtmCampaign: Single(form, Attribution.CampaignField, errors, texts));

        // The form reader turns bytes that are not UTF-8 into U+FFFD; no real field holds one.
        foreach (var (field, values) in form)
        {
            if (values.Any(v => v?.Contains('\uFFFD', StringComparison.Ordinal) == true))
            {
                errors[field] = [texts["FieldNotUtf8", field]];
            }
        }

        return new(input, errors, null);
    }

    static string? Single(IFormCollection form, string field, Dictionary<string, string[]> errors, IStringLocalizer<Texts> texts)
    {
        var values = form[field];
        if (values.Count > 1)
        {
            errors[field] = [texts["FieldRepeated", field]];
            return null;
        }

        return string.IsNullOrEmpty(values.ToString()) ? null : values.ToString();
    }
}
